module rtbench

go 1.23
