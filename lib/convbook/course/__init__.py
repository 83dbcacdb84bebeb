"""convbook.course: the book as course material: the exercises' self-checks and the builders of the student
editions. The top layer: it may import every other layer, and none imports it.
"""
