package jobs

// SetHealthProbe makes the governor of s call f after each health read.
func SetHealthProbe(s *Session, f func(Health)) { s.gov.probe = f }
