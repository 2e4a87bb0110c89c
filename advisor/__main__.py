from advisor.commands.cli import main

raise SystemExit(main())
