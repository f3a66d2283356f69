module pprofcol.test/goroutines

go 1.21
