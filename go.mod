module github.com/cctrack/cctrack

go 1.26
