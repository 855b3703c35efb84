"""`python -m bench` (`make bench`): what each function costs, beside the floor it could reach.

See bench/__main__.py for the sections and README "Performance" for how to read the table.
"""
