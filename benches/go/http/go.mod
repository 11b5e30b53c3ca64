module rtbench/http

go 1.23
