"""The Lambda code of every pattern, plus what the patterns share.

Each sub-folder is one pattern (or the registration function); the whole package is what a
Lambda bundle contains, so imports are always ``functions.<folder>.<module>``, locally and on AWS.
"""
