package jobs

// Paced reports whether the latency probe paces the run now: the
// application is at work and lethe takes less than all of the time.
func (s *Session) Paced() bool {
	_, ok := s.pacedShare()
	return ok
}

// pacedShare is the share of database time the latency probe's pacing
// gives the run, and whether it paces it at all (a share in (0, 1)).
func (s *Session) pacedShare() (float64, bool) {
	if s.gov == nil || s.gov.lat == nil {
		return 0, false
	}
	sh := s.gov.lat.Share()
	return sh, sh > 0 && sh < 1
}
