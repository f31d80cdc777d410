"""Recorder, RunResult DataFrames, summaries and plots."""
