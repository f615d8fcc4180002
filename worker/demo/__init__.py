"""`rapport demo`: a realistic demo CRM (people, records, a year of activity and
the story of a deal going quiet) built in a fresh SQLite store, the Dataverse
variant of the demo, and loading a CRM seed file (used by tests and benches).
"""
