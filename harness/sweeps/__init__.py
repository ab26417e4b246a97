"""Sweeps: many generated scenarios run as cells, resumed together, reported side by side."""
