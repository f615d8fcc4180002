"""Tests of worker/run."""
