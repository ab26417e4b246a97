"""Documents made from the numbers: report.md, report.html and their tables and charts, comparisons of runs, and tidy exports."""
