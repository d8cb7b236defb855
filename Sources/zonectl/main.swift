import Zone; import Boot; import Store; import ArgumentParser; print("x")
