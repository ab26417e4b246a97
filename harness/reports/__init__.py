"""Reports made from run files: summary, tables, markdown, HTML, charts, statistics, comparisons."""
