from drapto_tui.cli import main

raise SystemExit(main())
