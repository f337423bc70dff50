package main

import "github.com/spf13/cobra"

// addProjectCommands adds init, build, clean and stats.
func addProjectCommands(root *cobra.Command, g *globals) {}
