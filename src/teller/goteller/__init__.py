"""Switching from the Go teller: its BoltDB file read-only (`boltfile.py`), its records
(`records.py`), and the import into this store (`importer.py`)."""
