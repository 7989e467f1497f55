from vodflow.cli import main

main()
