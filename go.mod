module ferry

go 1.26.8
