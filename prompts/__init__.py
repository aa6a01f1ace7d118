"""hippograph.prompts"""
