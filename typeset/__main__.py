from .resident import main

main()
