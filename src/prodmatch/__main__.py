from prodmatch.cli import main

raise SystemExit(main())
