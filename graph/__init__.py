"""hippograph.graph"""
