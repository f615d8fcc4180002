"""What's New: fetching the RSS and Atom feeds an admin configures (RAPPORT_NEWS_FEEDS).

This package is the I/O side, beside the other fetchers: HTTP with
conditional GETs, a timeout and a size limit per feed, and parsing with
feedparser. Which items are about which account is decided by the pure
`insights.news_matching`; storing them is `storage`'s.
"""
