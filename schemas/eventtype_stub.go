package schemas

func typeDDL(o DDLOptions, types []*EventType) []string { return nil }
func evolve(o DDLOptions, t *EventType, existing map[string]map[string]string) ([]string, error) {
	return nil, nil
}
