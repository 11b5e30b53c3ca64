module rtbench/parkmem

go 1.23
