"""Fetching metrics into the workbook: the run, the account writer, the lock, and the last good sync."""
