"""Tests of the SQL storage layer and the embedded SQLite backends."""
