"""Tests of worker/cli."""
