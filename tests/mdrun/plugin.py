def pytest_configure(config): print("PLUGIN LOADED")
