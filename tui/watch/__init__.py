"""The watch engine: what is watched and when it is asked for (no Textual).

`RunStore` holds one job's runs, `JobFeed` keeps it current, and the one `Scheduler` of the
app owns the request budget and decides which feed may ask next. Subscribers hear `events`.
"""
