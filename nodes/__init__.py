"""hippograph.nodes"""
