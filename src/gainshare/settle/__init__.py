"""settle"""
