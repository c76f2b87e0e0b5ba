"""`carpswitch setup`: one carpswitch.toml configures both nodes of the pair, identically.

`init` writes the file from hastconf.sh's values (carpswitch.setup.init), `render` turns
it into each node's files (hast.conf, the devd rule, rc.conf.d, loader.conf.d, ctl.conf,
carpswitch.toml itself), and `plan`/`apply`/`check` compare them with each node and act.
Keep this file free of imports: `carpswitch setup init` must start fast.
"""
