package main

import (
	"fmt"

	monitoringv1 "github.com/prometheus-operator/prometheus-operator/pkg/apis/monitoring/v1"
	appsv1 "k8s.io/api/apps/v1"
	autoscalingv2 "k8s.io/api/autoscaling/v2"
	corev1 "k8s.io/api/core/v1"
	policyv1 "k8s.io/api/policy/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/util/intstr"
)

type (
	deployment = appsv1.Deployment
	service    = corev1.Service
	secret     = corev1.Secret
	pdb        = policyv1.PodDisruptionBudget
	hpa        = autoscalingv2.HorizontalPodAutoscaler
)

type serviceInfo struct {
	svc *corev1.Service
}

func workloadOf(d *appsv1.Deployment) workload {
	w := workload{kind: "Deployment", name: d.Name, labels: d.Spec.Template.Labels, ports: map[string]bool{}}
	for _, c := range d.Spec.Template.Spec.Containers {
		for _, p := range c.Ports {
			if p.Name != "" {
				w.ports[p.Name] = true
			}
		}
	}
	return w
}

// checkDeployment: the selector selects the pod template, every container has an image and
// resources, probes name ports the container has, and the pod does not run as root.
func checkDeployment(d *appsv1.Deployment) []string {
	var problems []string
	where := "Deployment " + d.Name
	if d.Spec.Selector == nil {
		return append(problems, where+": no selector")
	}
	selector, err := metav1.LabelSelectorAsSelector(d.Spec.Selector)
	if err != nil || selector.Empty() || !selector.Matches(labels.Set(d.Spec.Template.Labels)) {
		problems = append(problems, where+": the selector does not select the pod template's labels")
	}
	pod := d.Spec.Template.Spec
	if pod.SecurityContext == nil || pod.SecurityContext.RunAsNonRoot == nil || !*pod.SecurityContext.RunAsNonRoot {
		problems = append(problems, where+": the pod must set securityContext.runAsNonRoot: true")
	}
	for _, c := range pod.Containers {
		cw := fmt.Sprintf("%s container %s", where, c.Name)
		if c.Image == "" {
			problems = append(problems, cw+": no image")
		}
		if c.Resources.Requests.Cpu().IsZero() || c.Resources.Limits.Memory().IsZero() {
			problems = append(problems, cw+": needs a CPU request and a memory limit")
		}
		names := map[string]bool{}
		for _, p := range c.Ports {
			names[p.Name] = true
		}
		for kind, probe := range map[string]*corev1.Probe{"liveness": c.LivenessProbe, "readiness": c.ReadinessProbe, "startup": c.StartupProbe} {
			if probe == nil {
				if kind != "startup" {
					problems = append(problems, fmt.Sprintf("%s: no %s probe", cw, kind))
				}
				continue
			}
			if probe.HTTPGet != nil && probe.HTTPGet.Port.Type == intstr.String && !names[probe.HTTPGet.Port.StrVal] {
				problems = append(problems, fmt.Sprintf("%s: %s probe port %q is not a container port", cw, kind, probe.HTTPGet.Port.StrVal))
			}
		}
	}
	return problems
}

func secretRefs(d *appsv1.Deployment) []string {
	var refs []string
	pod := d.Spec.Template.Spec
	for _, c := range append(append([]corev1.Container{}, pod.InitContainers...), pod.Containers...) {
		for _, e := range c.Env {
			if e.ValueFrom != nil && e.ValueFrom.SecretKeyRef != nil && (e.ValueFrom.SecretKeyRef.Optional == nil || !*e.ValueFrom.SecretKeyRef.Optional) {
				refs = append(refs, e.ValueFrom.SecretKeyRef.Name)
			}
		}
	}
	for _, v := range pod.Volumes {
		if v.Secret != nil && (v.Secret.Optional == nil || !*v.Secret.Optional) {
			refs = append(refs, v.Secret.SecretName)
		}
	}
	return refs
}

func checkService(s *corev1.Service, workloads []workload) []string {
	where := "Service " + s.Name
	selector := labels.SelectorFromSet(s.Spec.Selector)
	var target *workload
	for i, w := range workloads {
		if len(s.Spec.Selector) > 0 && selector.Matches(labels.Set(w.labels)) {
			target = &workloads[i]
		}
	}
	if target == nil {
		return []string{where + ": the selector selects no workload of the release"}
	}
	var problems []string
	for _, p := range s.Spec.Ports {
		if p.TargetPort.Type == intstr.String && !target.ports[p.TargetPort.StrVal] {
			problems = append(problems, fmt.Sprintf("%s: target port %q is not a port of %s %s", where, p.TargetPort.StrVal, target.kind, target.name))
		}
	}
	return problems
}

func checkSelects(where string, selector *metav1.LabelSelector, workloads []workload) []string {
	if selector == nil {
		return []string{where + ": no selector"}
	}
	s, err := metav1.LabelSelectorAsSelector(selector)
	if err != nil {
		return []string{fmt.Sprintf("%s: %v", where, err)}
	}
	for _, w := range workloads {
		if !s.Empty() && s.Matches(labels.Set(w.labels)) {
			return nil
		}
	}
	return []string{where + ": the selector selects no workload of the release"}
}

func checkServiceMonitor(m *monitoringv1.ServiceMonitor, services map[string]*serviceInfo) []string {
	where := "ServiceMonitor " + m.Name
	selector, err := metav1.LabelSelectorAsSelector(&m.Spec.Selector)
	if err != nil {
		return []string{fmt.Sprintf("%s: %v", where, err)}
	}
	var selected []*corev1.Service
	for _, s := range services {
		if !selector.Empty() && selector.Matches(labels.Set(s.svc.Labels)) {
			selected = append(selected, s.svc)
		}
	}
	if len(selected) == 0 {
		return []string{where + ": the selector selects no Service of the release"}
	}
	var problems []string
	for _, e := range m.Spec.Endpoints {
		if e.Port == "" {
			problems = append(problems, where+": an endpoint names no port")
			continue
		}
		for _, s := range selected {
			found := false
			for _, p := range s.Spec.Ports {
				found = found || p.Name == e.Port
			}
			if !found {
				problems = append(problems, fmt.Sprintf("%s: Service %s has no port %q", where, s.Name, e.Port))
			}
		}
	}
	return problems
}
