module rtbench/echo

go 1.23
