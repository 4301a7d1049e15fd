from xlrobust.cli import main

raise SystemExit(main())
