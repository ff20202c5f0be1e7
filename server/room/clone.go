package room

// Clone returns a deep copy, so a store can hand an update function a state it
// may change freely and throw away if the function refuses.
func (st *State) Clone() *State {
	c := *st
	if st.Round != nil {
		r := *st.Round // token sets and reveals are strings: shared, never copied
		r.Reveals = append([]string(nil), r.Reveals...)
		c.Round = &r
	}
	if st.Settings != nil {
		s := *st.Settings
		c.Settings = &s
	}
	for i, a := range st.Announce {
		if a != nil {
			a2 := *a
			c.Announce[i] = &a2
		}
	}
	c.Debriefs = append([]Debrief(nil), st.Debriefs...)
	for i, se := range st.Seats {
		if se.Push != nil {
			p := *se.Push
			c.Seats[i].Push = &p
		}
		c.Seats[i].Revoked = append([]string(nil), se.Revoked...)
	}
	return &c
}
