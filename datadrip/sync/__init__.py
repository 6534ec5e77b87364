"""Fetching metrics into the workbook: the run, the account writer and the lock."""
