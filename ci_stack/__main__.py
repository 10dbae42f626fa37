from ci_stack.cli import main

main()
