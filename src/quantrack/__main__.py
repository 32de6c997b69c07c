from quantrack.cli import main

main()
