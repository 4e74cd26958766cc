from prodmatch.cli import main

if __name__ == "__main__":  # not when a spawned child (a Dask worker) imports the parent's main module
    raise SystemExit(main())
