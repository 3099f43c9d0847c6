"""The report page's style sheet: inline in report.html, so the page needs nothing else."""

CSS = """
body{font-family:system-ui,-apple-system,"Segoe UI",Roboto,"Helvetica Neue",Arial,sans-serif;
 max-width:1140px;margin:0 auto;padding:0 20px 40px;color:#222;line-height:1.45;font-size:15px}
header{border-bottom:2px solid #ddd;margin-bottom:8px}
h1{font-size:1.6em;margin:18px 0 4px}
h2{font-size:1.25em;margin:28px 0 8px;border-bottom:1px solid #e4e4e4;padding-bottom:3px}
h3{font-size:1.05em;margin:18px 0 6px}
nav{margin:6px 0 12px;font-size:.92em}
nav a{color:#1f5fa8;text-decoration:none}
img{max-width:100%;height:auto;display:block;margin:8px 0}
div.wide{overflow-x:auto}
table{border-collapse:collapse;margin:8px 0;font-size:.9em}
th,td{border:1px solid #ddd;padding:3px 8px;text-align:right;vertical-align:top}
th{background:#f4f4f4;font-weight:600}
table.summary td:first-child,table.summary th:first-child{text-align:left}
table.summary small{font-weight:400;color:#555}
table.summary td{white-space:nowrap}
table.kv th,table.kv td,table.evidence td{text-align:left}
table.kv th{white-space:nowrap}
table.evidence th{text-align:left}
td.at-majority{background:#fff1c2}
td.below-majority{background:#fbd5d0}
pre{background:#f7f7f7;border:1px solid #e4e4e4;padding:8px;overflow-x:auto;font-size:.85em}
code{font-size:.92em;background:#f4f4f4;padding:0 3px;border-radius:3px}
details summary{cursor:pointer;color:#1f5fa8;margin:6px 0}
p.note{color:#555;font-size:.88em;margin:4px 0}
p.problem{background:#fbd5d0;padding:6px 10px;border-radius:4px}
p.verdict{font-size:1.1em;font-weight:600}
.finding{border:1px solid #ddd;border-left:6px solid #888;border-radius:4px;padding:6px 12px;margin:10px 0}
.finding-head{margin:4px 0;font-size:1.02em}
.badge{display:inline-block;color:#fff;background:#888;border-radius:3px;padding:0 7px;font-size:.8em;
 font-weight:600;text-transform:uppercase;vertical-align:1px}
.sev-error{border-left-color:#c62828}.sev-error .badge{background:#c62828}
.sev-warning{border-left-color:#e69500}.sev-warning .badge{background:#e69500}
.sev-info{border-left-color:#1f77b4}.sev-info .badge{background:#1f77b4}
footer{margin-top:30px;color:#777;font-size:.85em;border-top:1px solid #eee;padding-top:6px}
"""
