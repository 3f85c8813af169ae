module github.com/nuttx-feed/nuttx-feed

go 1.26.0

require (
	github.com/dustin/go-humanize v1.1.0 // indirect
	github.com/go-ap/httpsig v0.0.0-20221203064646-3647b4d88fdf // indirect
	github.com/go-fed/activity v1.0.0 // indirect
	github.com/go-fed/httpsig v1.1.0 // indirect
	github.com/google/uuid v1.6.0 // indirect
	github.com/mattn/go-isatty v0.0.24 // indirect
	github.com/ncruces/go-strftime v1.1.0 // indirect
	github.com/remyoudompheng/bigfft v0.0.0-20230129092748-24d4a6f8daec // indirect
	golang.org/x/crypto v0.0.0-20200622213623-75b288015ac9 // indirect
	golang.org/x/sys v0.49.0 // indirect
	modernc.org/libc v1.80.1 // indirect
	modernc.org/mathutil v1.7.1 // indirect
	modernc.org/memory v1.12.1 // indirect
	modernc.org/sqlite v1.62.0 // indirect
)
