package server

import "github.com/jmake/jmake/internal/daemon"

func bindDiscovery(d *daemon.Daemon) error    { d.Cache("tools"); return nil }
func bindSetup(d *daemon.Daemon) error        { d.Cache("configs"); return nil }
func bindCompilation(d *daemon.Daemon) error  { d.Cache("builds"); return nil }
func bindOrchestrator(d *daemon.Daemon) error { d.Cache("history"); return nil }
