module keep.test/workloads

go 1.19
