import Zone; import Logging; print("x")
