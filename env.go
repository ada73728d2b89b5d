package main

import "github.com/sethvargo/go-envconfig"

type lookupFunc func(string) (string, bool)

func (f lookupFunc) Lookup(key string) (string, bool) { return f(key) }

func envLookup(f func(string) (string, bool)) envconfig.Lookuper { return lookupFunc(f) }
