package ec2

import (
	"slices"
	"sort"
)

// DescribeTags lists the tags of every taggable resource: flow logs and
// the inventory (derived and user tags alike, as Describe* show them).

type tagDescriptionXML struct {
	ResourceID   string `xml:"resourceId"`
	ResourceType string `xml:"resourceType"`
	Key          string `xml:"key"`
	Value        string `xml:"value"`
}

type describeTagsResponse struct {
	respMeta
	TagSet    itemList[tagDescriptionXML] `xml:"tagSet"`
	NextToken string                      `xml:"nextToken,omitempty"`
}

var tagFilters = filterSet[tagDescriptionXML]{
	"key":           func(t *tagDescriptionXML) []string { return []string{t.Key} },
	"value":         func(t *tagDescriptionXML) []string { return []string{t.Value} },
	"resource-id":   func(t *tagDescriptionXML) []string { return []string{t.ResourceID} },
	"resource-type": func(t *tagDescriptionXML) []string { return []string{t.ResourceType} },
}

func (s *Service) describeTags(rq *request) (response, error) {
	s.freshInventory()
	m, err := compile(rq.p.filters(), tagFilters, nil)
	if err != nil {
		return nil, err
	}
	max, err := maxResults(rq.p, false)
	if err != nil {
		return nil, err
	}
	if err := checkDryRun(rq.p); err != nil {
		return nil, err
	}
	var all []tagDescriptionXML
	add := func(id, typ string, tags []Tag) {
		for _, t := range tags {
			all = append(all, tagDescriptionXML{id, typ, t.Key, t.Value})
		}
	}
	region := rq.info.Region
	if region == "" {
		region = s.inv.Region()
	}
	for _, fl := range s.FlowLogs() {
		if fl.Region == region {
			add(fl.ID, "vpc-flow-log", fl.Tags)
		}
	}
	if s.inRegion(rq) {
		for _, v := range s.inv.VPCs() {
			add(v.ID, "vpc", s.resourceTags(v.ID))
		}
		for _, x := range s.inv.Subnets() {
			add(x.ID, "subnet", s.resourceTags(x.ID))
		}
		for _, i := range s.inv.Interfaces() {
			add(i.ID, "network-interface", withTags(interfaceTags(&i), s.resourceTags(i.ID)))
		}
		for _, in := range s.inv.Instances() {
			add(in.ID, "instance", withTags(instanceTags(&in), s.resourceTags(in.ID)))
		}
	}
	all = slices.DeleteFunc(all, func(t tagDescriptionXML) bool { return !m.match(&t) })
	sort.Slice(all, func(a, b int) bool {
		if all[a].ResourceID != all[b].ResourceID {
			return all[a].ResourceID < all[b].ResourceID
		}
		return all[a].Key < all[b].Key
	})
	// The position is resource id and key, which together name a tag.
	key := func(t *tagDescriptionXML) string { return t.ResourceID + "\x00" + t.Key }
	pg, next, err := page(all, key, "ec2-tags", rq.p.get("NextToken"), max)
	if err != nil {
		return nil, err
	}
	return &describeTagsResponse{TagSet: itemList[tagDescriptionXML]{Items: append([]tagDescriptionXML{}, pg...)}, NextToken: next}, nil
}
