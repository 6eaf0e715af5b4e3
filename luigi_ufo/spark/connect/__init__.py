"""Connect mode: the script's ``main(argv, spark)`` against a Spark Connect server, in a child
process of its own."""
