// Package scripts holds the shell scripts that install the tools lethe's
// tests run against and run the demo; its tests run the installers against
// a stand-in apt-get and systemctl on PATH, so that they never install
// anything on the machine that runs them.
package scripts
